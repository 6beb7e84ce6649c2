"""Name pools for the synthetic generator: diverse UK first names and surnames.

Synthetic people only; the pools are large so that a redactor cannot memorise
them. Accented and apostrophised spellings are deliberate.
"""

FEMALE_FORENAMES = """
Miriam Sarah Rivka Chana Esther Malka Shira Naomi Rachel Leah Devorah Tamar Yael
Batsheva Chaya Dina Elisheva Gila Hadassah Ilana Keren Liora Michal Nechama Orly
Penina Rina Tova Tzipora Yehudit Zahava Avital Bracha Frumet Golda Hinda Raizel
Shoshana Sima Talia Adina Ayelet Daniella Efrat Hila Noa Rut Yocheved Bluma
Siobhán Niamh Aoife Caoimhe Róisín Éabha Gráinne Saoirse Sinéad Orla Clodagh
Aisling Bríd Máire Deirdre Fionnuala Méabh Nuala Úna Ailbhe
Harriet Eleanor Charlotte Amelia Imogen Beatrice Florence Matilda Penelope Rosalind
Philippa Georgina Henrietta Juliet Katherine Lucinda Madeleine Octavia Prudence
Rebecca Susannah Victoria Wilhelmina Abigail Bethany Cordelia Dorothy Evangeline
Felicity Gwendolyn Jemima Lavinia Marianne Nicola Olivia Patricia Rosamund Sophie
Tabitha Ursula Vanessa Winifred Annabel Camilla Eloise Frances Gemma Joanna
Priya Ananya Deepika Harpreet Gurpreet Jaspreet Kavita Lakshmi Meera Nisha Pooja
Rupinder Simran Sunita Tanvi Anjali Divya Farzana Nasreen Rukhsana Shabnam Yasmin
Aisha Fatima Khadija Maryam Noor Zainab Amina Hafsa Safiya Sumaiya Bushra Samina
Chiamaka Adaeze Folasade Ngozi Oluwaseun Temitope Yetunde Abimbola Chinonso Ifeoma
Mei Xiaoling Yan Jing Lian Ying Shu Huong Linh Thu Hana Yuki Sakura
Katarzyna Agnieszka Małgorzata Joanna Magdalena Zofia Alicja Dorota Ewa Beata
Zoë Chloé Renée Inês Mónica Lucía Ximena Beatriz Constança Élodie Anaïs Margaux
Ailsa Morag Kirsty Isla Eilidh Catriona Mhairi Fiona Shona Iona
Cerys Angharad Bethan Ffion Gwen Lowri Megan Nia Rhiannon Sioned
Keisha Shanice Tanisha Jahnavi Ebony Marcia Paulette Yvonne Beverley Sonia
"""

MALE_FORENAMES = """
Menachem Dovid Yehuda Yossi Moshe Chaim Avraham Shmuel Yitzchak Mordechai Tzvi
Baruch Eliezer Gavriel Hillel Lazer Meir Nachman Pinchas Reuven Shimon Yaakov
Yonatan Zalman Ari Boaz Doron Ehud Gideon Itamar Kobi Lior Nadav Oren Raphael
Tomer Uri Yoav Zev Binyamin Ephraim Feivel Herschel Leib Sender Shlomo Velvel
Seán Pádraig Ciarán Oisín Tadhg Darragh Cathal Donnchadh Eoghan Fiachra Colm
Diarmuid Lorcan Ruairí Seamus Cillian Fergal Rónán Aodhán Caolán
Oliver Benjamin Jonathan Dominic Toby Simon Hugo Rupert Alistair Bartholomew
Cornelius Edmund Frederick Gregory Humphrey Jeremy Lancelot Montague Nigel Percival
Quentin Reginald Sebastian Theodore Vincent Archibald Barnaby Clement Digby Everett
Fraser Hamish Callum Angus Ewan Murdo Ruaridh Struan Gregor Lachlan
Rhys Dafydd Gethin Iwan Owain Emyr Gareth Huw Aled Tomos
Arjun Rahul Sandeep Rajesh Vikram Anil Deepak Harjit Kuldeep Manpreet Navdeep
Sukhwinder Amarjit Ravinder Imran Tariq Farhan Bilal Zubair Asif Kamran Shahid
Mohammed Ahmed Yusuf Ibrahim Omar Hamza Idris Khalid Mustafa Rashid Salman Zaid
Chukwuemeka Oluwafemi Babatunde Chidi Emeka Kelechi Nnamdi Olumide Tunde Adebayo
Wei Jian Hao Ming Tao Jun Zhen Minh Tuan Kenji Hiroshi Takeshi
Łukasz Wojciech Krzysztof Tomasz Grzegorz Paweł Michał Piotr Marek Jakub
José Joaquín Andrés Nicolás Sebastián João Gonçalo Thiago Raúl Émile Frédéric Loïc
Delroy Winston Errol Leroy Desmond Clifton Lloyd Dwayne Marlon Tyrone
Kyle Reece Liam Connor Jordan Bradley Declan Jamie Lewis Nathan
"""

SURNAMES = """
Goldstein Steinhardt Hershkowitz Pinkerfeld Grunfeld Wasserstrom Mandelbaum Rubinstein
Lipschitz Halpern Friedman Brocklehurst Whitworth Ashworth Dunleavy Chaudhry
Rosenberg Weinberg Feldman Kaplan Katz Levy Cohen Abrahams Bernstein Blumenthal
Edelstein Eisenberg Finkelstein Gottlieb Greenspan Horowitz Jacobson Kornblum
Lebowitz Margolis Nussbaum Oppenheim Perlman Rabinowitz Schechter Shapiro Silverman
Teitelbaum Unterman Weiss Zuckerman Adler Birnbaum Dreyfus Ehrlich Fishman Glickman
Hirsch Kessler Landau Mendelsohn Neumann Orenstein Pollak Rothschild Saltzman
Tannenbaum Wolfson Yablonsky Zilberman Ben-David Bar-Lev Azoulay Benchetrit Elbaz
Sasson Toledano Abecassis Mizrahi Peretz Dahan Amsellem Gabbay Sassoon Shalev
Ó'Connell O'Brien O'Sullivan Ní Bhriain Mac Suibhne Ó'Neill McLoughlin Fitzgerald
Brennan Gallagher Kavanagh Mulligan Quinlan Donnelly Flanagan Keogh Doherty
Ó'Riordáin Mac Carthaigh Ó'Dónaill Nic Giolla Ó'Murchú Breathnach Ó'Súilleabháin
Hargreaves Marsden Ogden Pilkington Butterworth Entwistle Haworth Ramsbottom
Sutcliffe Ackroyd Holroyd Greenhalgh Heywood Kershaw Lomax Barraclough Crabtree
Cartwright Fothergill Higginbottom Illingworth Lumb Mellor Ormerod Pickles
Pemberton Rushworth Shuttleworth Thistlethwaite Uttley Wolstenholme Yardley
Patel Shah Mistry Desai Joshi Mehta Parekh Sharma Verma Gupta Agarwal Kapoor
Malhotra Bhatt Chopra Iyer Nair Menon Reddy Rao Pillai Krishnan Subramanian
Sandhu Gill Dhillon Sidhu Bains Grewal Johal Khera Randhawa Sahota Virdi
Hussain Khan Akhtar Iqbal Mahmood Qureshi Rehman Siddiqui Butt Rafiq Anwar
Begum Uddin Rahman Chowdhury Miah Ahmed Karim Haque Islam Sarkar
Okafor Adeyemi Okonkwo Balogun Eze Nwosu Adebayo Olawale Obi Chukwu Afolabi
Mensah Asante Boateng Owusu Appiah Darko Osei Agyeman Acheampong
Nowak Kowalski Wiśniewski Wójcik Kamiński Lewandowski Zieliński Szymański Dąbrowski
Kozłowski Jankowski Mazur Krawczyk Piotrowski Grabowski Pawłowski Michalski
Dvořák Novák Horváth Szabó Kovács Tóth Nagy Varga Popescu Ionescu
Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Nguyen Tran Pham Le Hoang
Tanaka Suzuki Takahashi Watanabe Yamamoto Nakamura Kobayashi Kim Park Choi
Fernandes Pereira Gonçalves Rodrigues Martins Sousa Álvarez García Fernández
López Martínez Sánchez Romero Jiménez Muñoz Navarro Domínguez Gutiérrez
Dubois Lefèvre Moreau Girard Rousseau Fontaine Chevalier Laurent Mercier Bonnet
Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Bruno
Müller Schneider Fischer Wagner Becker Hoffmann Schäfer Koch Richter Klein
MacDonald MacLeod MacKenzie Campbell Stewart Robertson Murray Fraser Ferguson
Buchanan Drummond Galbraith Lindsay Mackintosh Munro Sinclair Urquhart Ritchie
Llewellyn Pritchard Vaughan Prosser Bowen Griffiths Jenkins Powell Howells
Thompson Robinson Clarke Walker Wright Harrison Atkinson Fletcher Gardner
Holloway Jefferson Kingsley Lockwood Montgomery Nightingale Pennington Rutherford
Sherwood Thornton Underwood Wainwright Blackwood Carrington Davenport Eversley
Fairbairn Garside Hetherington Inglewood Kettleborough Langley Merriweather
Campbell-Brown Da Silva De Souza Van der Berg Dos Santos Smith-Okoro
Grant Forbes Reid Bell Spence Bailey Barrett Clarke-Hall Gayle Henry Morgan
"""


def _words(block: str) -> list[str]:
    out: list[str] = []
    for line in block.strip().splitlines():
        out.extend(line.split())
    return out


def _surnames(block: str) -> list[str]:
    """Split the surname block, keeping two-word Irish/Dutch/Portuguese names whole."""
    joiners = {"Ní", "Mac", "Nic", "Van", "der", "Da", "De", "Dos"}
    out: list[str] = []
    for line in block.strip().splitlines():
        words = line.split()
        i = 0
        while i < len(words):
            name = words[i]
            while name.split()[-1] in joiners and i + 1 < len(words):
                i += 1
                name = f"{name} {words[i]}"
            out.append(name)
            i += 1
    return out


FEMALE = tuple(dict.fromkeys(_words(FEMALE_FORENAMES)))
MALE = tuple(dict.fromkeys(_words(MALE_FORENAMES)))
SURNAME = tuple(dict.fromkeys(_surnames(SURNAMES)))
